// socketio_cluster_server.js -- one node of a Socket.IO 4 cluster joined
// through Redis (@socket.io/redis-adapter), broadcasting, under benchmark.
//
//   node socketio_cluster_server.js redis://127.0.0.1:PORT
//
// The Socket.IO server of socketio_server.js (websocket transport only,
// every event "m" a client emits goes to every other client of the
// namespace with socket.broadcast.emit, its argument unchanged) with the
// Redis adapter: an event is published once to Redis by the node its
// sender is on and delivered by every other node to its own clients.
// Two Redis connections (node-redis 4: a publisher and a subscriber, as
// the adapter's documentation sets them up).  Listens on an ephemeral port
// of 127.0.0.1 once both Redis connections are up and prints the port on
// stdout as its first line, the versions on stderr.  The modules are
// resolved through NODE_PATH (bench/run.sh: the npm install of
// bench/package-lock.json).  Exits 1 if Redis cannot be reached within
// 10 s or a Redis connection fails later.

'use strict';

const http = require('http');
const { Server } = require('socket.io');
const { createClient } = require('redis');
const { createAdapter } = require('@socket.io/redis-adapter');

const url = process.argv[2];
if (!url) {
    process.stderr.write('usage: node socketio_cluster_server.js redis://host:port\n');
    process.exit(2);
}

function version(m) {
    try {
	return require(m + '/package.json').version;
    } catch (e) {
	return '?';
    }
}

function fail(what, err) {
    process.stderr.write('socketio_cluster_server: ' + what + ': '
	+ (err && err.message ? err.message : err) + '\n');
    process.exit(1);
}

// No reconnection: a lost Redis connection would lose messages, and the
// run must fail rather than measure that.
const pubClient = createClient({
    url: url,
    socket: { connectTimeout: 10000, reconnectStrategy: false }
});
const subClient = pubClient.duplicate();
pubClient.on('error', function (e) { fail('Redis publisher', e); });
subClient.on('error', function (e) { fail('Redis subscriber', e); });

const timer = setTimeout(function () {
    fail('Redis', 'not connected within 10 s');
}, 10000);

Promise.all([pubClient.connect(), subClient.connect()]).then(function () {
    clearTimeout(timer);
    const httpServer = http.createServer();
    const io = new Server(httpServer, {
	transports: ['websocket'],
	serveClient: false,
	adapter: createAdapter(pubClient, subClient)
    });
    io.on('connection', function (socket) {
	socket.on('m', function (data) {
	    socket.broadcast.emit('m', data);
	});
    });
    httpServer.listen(0, '127.0.0.1', function () {
	process.stderr.write('socketio_cluster_server: node ' + process.version
	    + ', socket.io ' + version('socket.io')
	    + ', @socket.io/redis-adapter ' + version('@socket.io/redis-adapter')
	    + ', redis ' + version('redis') + ' from '
	    + require.resolve('socket.io') + '\n');
	process.stdout.write(httpServer.address().port + '\n');
    });
}, function (e) {
    fail('Redis connect', e);
});

process.on('SIGTERM', function () { process.exit(0); });
