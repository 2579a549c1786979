/** The page's Socket.IO socket as packages/client's ClientTransport (Socket.IO puts ack timeouts on `timeout()`). */
import type { Socket } from 'socket.io-client';
import type { ClientTransport } from '@hushfl/client/session';

export function socketTransport(socket: Socket): ClientTransport {
  return {
    connect: () => void socket.connect(),
    disconnect: () => void socket.disconnect(),
    on: (event, handler) => void socket.on(event, handler),
    // An event without a payload (`ready`) goes out without one, not with a null.
    emit: (event, payload) => void (payload === undefined ? socket.emit(event) : socket.emit(event, payload)),
    emitWithAck: (event, payload, timeoutMs) => socket.timeout(timeoutMs).emitWithAck(event, payload),
  };
}
