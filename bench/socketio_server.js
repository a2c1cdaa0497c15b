// socketio_server.js -- a Socket.IO 4 server, broadcasting, under benchmark.
//
//   node socketio_server.js
//
// A Socket.IO server on an ephemeral port of 127.0.0.1 with the websocket
// transport only (no HTTP long-polling, so every client connects with
// GET /socket.io/?EIO=4&transport=websocket).  Every event "m" a client
// emits is emitted to every other connected client of the namespace
// (socket.broadcast.emit), its argument unchanged.  Prints the port on
// stdout as its first line, the versions on stderr.  socket.io is
// resolved through NODE_PATH (bench/run.sh: the npm install of
// bench/package-lock.json).

'use strict';

const http = require('http');
const { Server } = require('socket.io');

const httpServer = http.createServer();
const io = new Server(httpServer, {
    transports: ['websocket'],
    serveClient: false
});

io.on('connection', function (socket) {
    socket.on('m', function (data) {
	socket.broadcast.emit('m', data);
    });
});

httpServer.listen(0, '127.0.0.1', function () {
    let version = '?';
    try {
	version = require('socket.io/package.json').version;
    } catch (e) {
	// Some installs do not export package.json.
    }
    process.stderr.write('socketio_server: node ' + process.version
	+ ', socket.io ' + version + ' from ' + require.resolve('socket.io')
	+ '\n');
    process.stdout.write(httpServer.address().port + '\n');
});

process.on('SIGTERM', function () { process.exit(0); });
