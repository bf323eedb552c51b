// The machine's floor for one HTTP round trip, for the bench's calibration: the smallest node:http
// server there is, answering every request with `{}`, in a process of its own and plain
// JavaScript (no TypeScript loader, nothing else on its event loop). It prints its port.
import { createServer } from "node:http";

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": 2 });
  res.end("{}");
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
