import { createServer } from "node:net";
import { StartupError } from "../config.js";

/**
 * Fails fast when the api port is taken (a second `npm start`, another
 * program), before the process joins the database or starts any work.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") reject(new StartupError(`port ${port} is in use; set PORT (or stop what listens there)`));
      else if (error.code === "EACCES") reject(new StartupError(`port ${port} needs privileges this process lacks; set PORT to 1024 or above`));
      else if (error.code === "EADDRNOTAVAIL") reject(new StartupError(`HOST ${host} is not an address of this machine; set HOST`));
      else reject(error);
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
