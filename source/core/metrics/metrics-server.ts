/**
 * A minimal HTTP endpoint for Prometheus (node:http, no framework):
 *
 *   GET /metrics   the registry in the text exposition format (Content-Type from the registry)
 *   GET /healthz   200 `ok` while every operational source answers; 503 with a short JSON body
 *                  naming the sources that do not ({ok:false, failing:[{source, error}]})
 *   anything else  404 (405 for another method on those two paths)
 *
 * What /healthz means for an exporter: "the numbers I serve are current". A source that stopped
 * answering (the database, the backup target, Redis with the heartbeats) makes it 503 while
 * /metrics keeps serving the last good values with `msdb_scrape_source_up` 0. Use it for
 * readiness and alerting, not for a liveness probe: restarting the exporter does not bring a
 * database back. It reads through the sources' caches, so frequent probes cost nothing extra.
 *
 * Host: by default every interface (as node_exporter and most exporters do), because Prometheus
 * scrapes from another machine. What is served is not secret — counts, ages, pool sizes; no
 * URLs, credentials, keys or SQL (error texts in /healthz are redacted) — but pass
 * `host: '127.0.0.1'` when only a local agent scrapes.
 */
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Registry} from 'prom-client';
import {ActionableError, asMsdbError} from '../errors.js';
import {redact} from '../redact.js';

/** What /healthz asks; `ok: false` answers 503 with the object (minus nothing) as JSON. */
export type MetricsHealthCheck = () => Promise<{ok: boolean; sources?: Array<{source: string; up: boolean; error?: string}>}>;

/** Where and what to serve. */
export type ServeMetricsOptions = {
	registry: Registry;
	/** TCP port; 0 picks a free one (see {@link MetricsServer.port}). */
	port: number;
	/** Interface to listen on; default every interface (IPv6 and IPv4 where available). */
	host?: string;
	/** Behind /healthz; without it /healthz answers 200 as long as the process serves. */
	health?: MetricsHealthCheck;
};

/** A running endpoint. */
export type MetricsServer = {
	/** The port listened on (the one chosen when 0 was asked). */
	port: number;
	/** `http://<host>:<port>`, with `localhost` standing for every interface. */
	url: string;
	/** Requests answered so far, by path. */
	stats(): {scrapes: number; healthChecks: number};
	/** Stops listening and ends open connections (keep-alive scrapers included). */
	close(): Promise<void>;
};

/** Starts the endpoint; resolves once it listens. A busy port is an ActionableError naming it. */
export async function serveMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
	const counts = {scrapes: 0, healthChecks: 0};
	const server = createServer((request, response) => {
		void answer(request, response, options, counts);
	});
	// A scraper that keeps its connection open must not hold close() up for the keep-alive timeout.
	server.keepAliveTimeout = 5000;
	await new Promise<void>((resolve, reject) => {
		const onError = (error: NodeJS.ErrnoException) => {
			reject(listenError(error, options));
		};

		server.once('error', onError);
		const ready = () => {
			server.off('error', onError);
			resolve();
		};

		if (options.host === undefined) {
			server.listen(options.port, ready);
		} else {
			server.listen(options.port, options.host, ready);
		}
	});

	const {port} = server.address() as AddressInfo;
	const host = options.host === undefined || options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host.includes(':') ? `[${options.host}]` : options.host;
	let closed: Promise<void> | undefined;
	return {
		port,
		url: `http://${host}:${port}`,
		stats: () => ({...counts}),
		async close() {
			closed ??= new Promise<void>(resolve => {
				server.close(() => resolve());
				server.closeAllConnections();
			});
			return closed;
		},
	};
}

async function answer(request: IncomingMessage, response: ServerResponse, options: ServeMetricsOptions, counts: {scrapes: number; healthChecks: number}): Promise<void> {
	const path = new URL(request.url ?? '/', 'http://localhost').pathname;
	const readOnly = request.method === 'GET' || request.method === 'HEAD';
	try {
		if (path === '/metrics' || path === '/healthz') {
			if (!readOnly) {
				send(response, 405, 'text/plain; charset=utf-8', 'method not allowed: use GET\n', {Allow: 'GET, HEAD'});
				return;
			}

			if (path === '/metrics') {
				counts.scrapes++;
				const body = await options.registry.metrics();
				send(response, 200, options.registry.contentType, body);
				return;
			}

			counts.healthChecks++;
			const health = options.health ? await options.health() : {ok: true};
			if (health.ok) {
				send(response, 200, 'text/plain; charset=utf-8', 'ok\n');
			} else {
				const failing = (health.sources ?? []).filter(source => !source.up).map(source => ({source: source.source, error: redact(source.error ?? 'down')}));
				send(response, 503, 'application/json; charset=utf-8', `${JSON.stringify({ok: false, failing})}\n`);
			}

			return;
		}

		send(response, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
	} catch (error) {
		// A collector that throws is msdb's bug; the scraper gets a 500 it will report, the process stays up.
		send(response, 500, 'text/plain; charset=utf-8', `${redact(asMsdbError(error).message)}\n`);
	}
}

function send(response: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
	if (response.headersSent) {
		return;
	}

	response.writeHead(status, {'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers});
	response.end(response.req.method === 'HEAD' ? undefined : body);
}

function listenError(error: NodeJS.ErrnoException, options: ServeMetricsOptions): Error {
	const where = `${options.host ?? 'every interface'} port ${options.port}`;
	if (error.code === 'EADDRINUSE') {
		return new ActionableError('E_IO', `Cannot serve metrics on ${where}: the port is already in use (another msdb metrics or exporter?).`, {
			nextStep: `Stop what listens there, or pick another port with --port (and point Prometheus at it).`,
			details: {port: options.port, host: options.host ?? null},
			cause: error,
		});
	}

	if (error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
		return new ActionableError('E_IO', `Cannot serve metrics on ${where}: ${error.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : 'no such address on this host'}.`, {
			nextStep: error.code === 'EACCES' ? 'Use a port above 1023 with --port (9464 is the default).' : 'Pass an address of this host with --host, or leave it out to listen on every interface.',
			details: {port: options.port, host: options.host ?? null},
			cause: error,
		});
	}

	return asMsdbError(error);
}
