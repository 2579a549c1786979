/** Entry of the client page: reads ?backend= and ?miniClients=, starts the controller, renders the UI. */
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { ClientController } from './controller.ts';
import './styles.css';

const params = new URLSearchParams(location.search);
const controller = new ClientController();
const miniClients = Math.max(1, Math.min(16, Number(params.get('miniClients') ?? '1') || 1));
createRoot(document.getElementById('root')!).render(
  <App controller={controller} initialMiniClients={miniClients} forcedBackend={params.get('backend')} autoJoin={params.get('autojoin') !== '0'} />,
);
// Read access to the UI state for the browser suites (webgpu.spec reads the metrics); nothing to call.
Object.assign(globalThis, {
  hushfl: {
    get state() {
      return controller.state;
    },
  },
});
