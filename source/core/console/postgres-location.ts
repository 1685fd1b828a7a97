/**
 * `host:port` and the database name from a masked PostgreSQL URL (DatabaseConfig.display), for
 * the console's header. A display that is not a URL (it always is today) is shown whole.
 */
export function postgresLocation(display: string): {host: string; database: string | null} {
	try {
		const url = new URL(display);
		const host = url.hostname === '' ? decodeURIComponent(url.searchParams.get('host') ?? '') || 'localhost' : url.hostname;
		const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
		return {host: `${decodeURIComponent(host)}${url.port ? `:${url.port}` : ''}`, database: database === '' ? null : database};
	} catch {
		return {host: display, database: null};
	}
}
