/**
 * Zod as an encapsulated plugin's validator and serializer (the operator API, the pages), with errors in the
 * contract's `{ error, issues? }` shape: one mapping from a schema failure to a 400 for every route.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { ConfigError, type ApiSchema } from '@hushfl/protocol';

export function useZod(app: FastifyInstance): void {
  // A bad field is a 400 naming it, in parseRunConfig's words (ConfigError: "ddg.bits: ...").
  app.setValidatorCompiler<ApiSchema>(({ schema }) => (data) => {
    const r = schema.safeParse(data);
    return r.success ? { value: r.data } : { error: new ConfigError(r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }))) };
  });
  // Parsing drops every key the response schema does not declare; a response that breaks it is a 500.
  app.setSerializerCompiler<ApiSchema>(({ schema, method, url, httpStatus }) => (data) => {
    const r = schema.safeParse(data);
    if (!r.success) throw new Error(`${method} ${url} ${httpStatus}: the response breaks its schema: ${r.error.message}`);
    return JSON.stringify(r.data);
  });
  app.setErrorHandler<FastifyError>((error, _req, reply) => {
    if (error instanceof ConfigError) return reply.code(400).send({ error: error.message, issues: error.issues });
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message });
    throw error; // the server's own error handler logs it and answers 500
  });
}
