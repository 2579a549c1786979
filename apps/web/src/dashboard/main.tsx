/** Entry of the operator dashboard. */
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import '../client/styles.css';
import './dashboard.css';

createRoot(document.getElementById('root')!).render(<App />);
