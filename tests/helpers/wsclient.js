// wsclient.js --
//
//	A WebSocket client for websocket.test built on Node's "ws" package
//	(run with NODE_PATH=/usr/share/nodejs for Debian's node-ws). Usage:
//
//	    node wsclient.js URL ?SUBPROTOCOL ...?
//
//	Same line protocol as wsclient.py: events on standard output
//	(open SUB|-, text HEX, binary HEX, pong, close CODE HEXREASON,
//	fail TEXT), commands on standard input (text HEX, binary HEX, ping,
//	close CODE HEXREASON, quit); payloads in hex, "-" when empty.

'use strict';

const WebSocket = require('ws');
const readline = require('readline');

function say(...words) {
    process.stdout.write(words.join(' ') + '\n');
}

function hex(buf) {
    const s = Buffer.from(buf).toString('hex');
    return s === '' ? '-' : s;
}

function unhex(s) {
    return s === '-' ? Buffer.alloc(0) : Buffer.from(s, 'hex');
}

const url = process.argv[2];
const subs = process.argv.slice(3);
const ws = new WebSocket(url, subs.length ? subs : undefined);
let opened = false;

ws.on('open', () => {
    opened = true;
    say('open', ws.protocol === '' ? '-' : ws.protocol);
});
ws.on('message', (data, isBinary) => {
    say(isBinary ? 'binary' : 'text', hex(data));
});
ws.on('pong', () => say('pong'));
ws.on('close', (code, reason) => {
    say('close', String(code), hex(reason));
    process.exit(0);
});
ws.on('error', (err) => {
    if (!opened) {
	say('fail', String(err.message).replace(/\n/g, ' '));
	process.exit(0);
    }
});

const rl = readline.createInterface({input: process.stdin});
rl.on('line', (line) => {
    const w = line.trim().split(/\s+/);
    switch (w[0]) {
    case 'text':
	ws.send(unhex(w[1]).toString('utf8'));
	break;
    case 'binary':
	ws.send(unhex(w[1]), {binary: true});
	break;
    case 'ping':
	ws.ping();
	break;
    case 'close':
	ws.close(Number(w[1]), unhex(w[2]).toString('utf8'));
	break;
    case 'quit':
	process.exit(0);
    }
});
rl.on('close', () => process.exit(0));
