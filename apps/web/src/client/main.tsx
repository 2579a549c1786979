/** Entry of the client page: reads ?backend=, ?miniClients=, ?autojoin= and ?joinCode= (the schema the coordinator checks), starts the controller, renders the UI. */
import { clientPageQuerySchema } from '@hushfl/protocol';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { ClientController } from '@hushfl/browser';
import './styles.css';

// The coordinator refuses a query that breaks the schema, so it parses here; a page opened elsewhere falls back to defaults.
const parsed = clientPageQuerySchema.safeParse(Object.fromEntries(new URLSearchParams(location.search)));
const query = parsed.success ? parsed.data : {};
const controller = new ClientController();
const miniClients = Math.min(16, query.miniClients ?? 1);
createRoot(document.getElementById('root')!).render(
  <App
    controller={controller}
    initialMiniClients={miniClients}
    forcedBackend={query.backend ?? null}
    autoJoin={query.autojoin !== '0'}
    joinCode={query.joinCode ?? null}
  />,
);
// Read access to the UI state for the browser suites (webgpu.spec reads the metrics); nothing to call.
Object.assign(globalThis, {
  hushfl: {
    get state() {
      return controller.state;
    },
  },
});
