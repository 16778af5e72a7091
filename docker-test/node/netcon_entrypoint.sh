#!/bin/sh
# node suite, the app: a node HTTP server (the original harness's "welcome" page), under the intercept.
set -eu
exec node -e '
const http = require("node:http");
http.createServer((req, res) => {
  res.setHeader("Content-Type", "text/html");
  res.end("<html><body><h1>Welcome to node on netcon</h1><p>" + process.version + "</p></body></html>\n");
}).listen(3000, () => console.log("node: listening on 3000"));
'
