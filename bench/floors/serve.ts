/** Listens on `PORT` and stops cleanly on SIGTERM or SIGINT: the same for every floor server. */
export async function serveUntilSignalled(server: {
  listen(port: number): Promise<unknown>;
  close(): Promise<void>;
}): Promise<void> {
  await server.listen(Number(process.env.PORT ?? 0));
  const stop = () =>
    void server
      .close()
      .catch(() => undefined)
      .then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
