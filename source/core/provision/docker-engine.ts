import http from 'node:http';
import net from 'node:net';

/** The result of asking "is there a Docker engine?", with enough detail to say why not. */
export type DockerEngineProbe = {
	available: boolean;
	/** `unix:///var/run/docker.sock`, `tcp://host:2375` … as probed. */
	endpoint: string;
	/** `answered /_ping`, `connect ENOENT /var/run/docker.sock`, `no answer within 1000 ms` … */
	detail: string;
};

export type DockerEngineProbeOptions = {
	/** Upper bound for the whole probe. A missing engine usually fails in microseconds. */
	timeoutMs?: number;
	env?: NodeJS.ProcessEnv;
};

const DEFAULT_SOCKET = '/var/run/docker.sock';

type Target =
	| {kind: 'http'; endpoint: string; request: http.RequestOptions}
	| {kind: 'tcp'; endpoint: string; host: string; port: number}
	| {kind: 'unsupported'; endpoint: string};

function targetFrom(env: NodeJS.ProcessEnv): Target {
	const dockerHost = env['DOCKER_HOST']?.trim();
	if (!dockerHost) {
		return {kind: 'http', endpoint: `unix://${DEFAULT_SOCKET}`, request: {socketPath: DEFAULT_SOCKET}};
	}

	if (dockerHost.startsWith('unix://')) {
		const socketPath = dockerHost.slice('unix://'.length);
		return {kind: 'http', endpoint: dockerHost, request: {socketPath}};
	}

	if (dockerHost.startsWith('tcp://')) {
		let url: URL;
		try {
			url = new URL(dockerHost);
		} catch {
			return {kind: 'unsupported', endpoint: dockerHost};
		}

		const tls = Boolean(env['DOCKER_TLS_VERIFY']) && env['DOCKER_TLS_VERIFY'] !== '0';
		const port = Number(url.port || (tls ? 2376 : 2375));
		// A TLS daemon wants a client certificate before it answers HTTP; accepting a TCP
		// connection is as far as a quick check can go without loading the certificates.
		return tls
			? {kind: 'tcp', endpoint: dockerHost, host: url.hostname, port}
			: {kind: 'http', endpoint: dockerHost, request: {host: url.hostname, port}};
	}

	return {kind: 'unsupported', endpoint: dockerHost};
}

/**
 * Asks the Docker engine named by DOCKER_HOST (unix socket or tcp), else /var/run/docker.sock,
 * for `GET /_ping`. Resolves within `timeoutMs` (default 1 s) whatever happens, so callers can
 * fall back to local services without waiting for testcontainers' own, much longer, timeouts.
 */
export async function probeDockerEngine(options: DockerEngineProbeOptions = {}): Promise<DockerEngineProbe> {
	const timeoutMs = options.timeoutMs ?? 1000;
	const target = targetFrom(options.env ?? process.env);
	if (target.kind === 'unsupported') {
		return {available: false, endpoint: target.endpoint, detail: 'DOCKER_HOST scheme not supported by the quick check'};
	}

	return new Promise(resolve => {
		let settled = false;
		const cleanups: Array<() => void> = [];
		const finish = (available: boolean, detail: string) => {
			if (!settled) {
				settled = true;
				clearTimeout(timer);
				for (const cleanup of cleanups) {
					cleanup();
				}

				resolve({available, endpoint: target.endpoint, detail});
			}
		};

		// A hard deadline: socket timeouts only measure idleness, a half-open daemon could
		// otherwise keep us waiting.
		const timer = setTimeout(() => {
			finish(false, `no answer within ${timeoutMs} ms`);
		}, timeoutMs);
		timer.unref();

		if (target.kind === 'tcp') {
			const socket = net.connect({host: target.host, port: target.port});
			cleanups.push(() => socket.destroy());
			socket.once('connect', () => finish(true, 'accepted a TCP connection (TLS endpoint, not pinged)'));
			socket.on('error', error => finish(false, error.message));
			return;
		}

		const request = http.get({...target.request, path: '/_ping', headers: {accept: 'text/plain'}}, response => {
			let body = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => {
				body += chunk;
			});
			response.on('end', () => {
				const ok = response.statusCode === 200 && body.trim() === 'OK';
				finish(ok, ok ? 'answered /_ping' : `/_ping answered HTTP ${String(response.statusCode)}`);
			});
			response.on('error', error => finish(false, error.message));
		});
		cleanups.push(() => request.destroy());
		request.on('error', error => finish(false, error.message));
	});
}

/** True when a Docker engine answers within about a second (see {@link probeDockerEngine}). */
export async function isDockerEngineAvailable(options: DockerEngineProbeOptions = {}): Promise<boolean> {
	return (await probeDockerEngine(options)).available;
}
