// ws_server.js -- Node's `ws` 8 server, broadcasting, under benchmark.
//
//   node ws_server.js
//
// A WebSocketServer on an ephemeral port of 127.0.0.1; every message a
// client sends goes to every other open client, as the ws README's
// broadcast example does it, with the message's own type (text or
// binary).  No per-message deflate (ws's default for a server).  Prints
// the port on stdout as its first line, the versions on stderr.
// `ws` is resolved through NODE_PATH: bench/run.sh puts the npm install
// of bench/package-lock.json first, Debian's /usr/share/nodejs second.

'use strict';

const { WebSocketServer, WebSocket } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });

wss.on('connection', function (ws) {
    ws.on('error', function () {});
    ws.on('message', function (data, isBinary) {
	for (const client of wss.clients) {
	    if (client !== ws && client.readyState === WebSocket.OPEN) {
		client.send(data, { binary: isBinary });
	    }
	}
    });
});

wss.on('listening', function () {
    let version = '?';
    try {
	version = require('ws/package.json').version;
    } catch (e) {
	// Some installs do not export package.json.
    }
    process.stderr.write('ws_server: node ' + process.version + ', ws '
	+ version + ' from ' + require.resolve('ws') + '\n');
    process.stdout.write(wss.address().port + '\n');
});

process.on('SIGTERM', function () { process.exit(0); });
