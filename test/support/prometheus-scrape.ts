/**
 * Scrapes a /metrics endpoint over HTTP the way Prometheus does and parses the exposition with
 * an independent parser (parse-prometheus-text-format), so tests read series, not strings.
 *
 * That parser folds a histogram family into one bucket set and drops its labels when it has
 * several series (1.1.1 handles only unlabelled histograms), so histogram parts are read from a
 * second parse in which histogram families are declared untyped: `_bucket`, `_sum` and `_count`
 * then come out as families of their own, labels intact.
 */
import parsePrometheusTextFormat, {type PrometheusFamily, type PrometheusSample} from 'parse-prometheus-text-format';

export type Scrape = {
	status: number;
	contentType: string;
	text: string;
	families: Map<string, PrometheusFamily>;
	/** Histogram families as their `_bucket`, `_sum` and `_count` series (see the file comment). */
	histogramParts: Map<string, PrometheusFamily>;
};

/** GET `url` and parse it; refuses an exposition with one series twice (Prometheus rejects such a scrape). */
export async function scrape(url: string): Promise<Scrape> {
	const response = await fetch(url);
	return parseExposition(await response.text(), response.status, response.headers.get('content-type') ?? '');
}

/** Parses exposition text got without HTTP (`await registry.metrics()`), with the same checks as {@link scrape}. */
export function parseExposition(text: string, status = 200, contentType = ''): Scrape {
	const families = new Map(parsePrometheusTextFormat(text).map(family => [family.name, family]));
	const seen = new Set<string>();
	for (const line of text.split('\n')) {
		if (line === '' || line.startsWith('#')) {
			continue;
		}

		const series = line.slice(0, line.lastIndexOf(' '));
		if (seen.has(series)) {
			throw new Error(`the exposition has ${series} twice`);
		}

		seen.add(series);
	}

	const untyped = text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped');
	// Untyped, the parts of several series alternate (`_bucket`…, `_sum`, `_count`, `_bucket`…), and
	// the parser starts a new family at every change of name: merge them, or only the last series is left.
	const histogramParts = new Map<string, PrometheusFamily>();
	for (const family of parsePrometheusTextFormat(untyped)) {
		const known = histogramParts.get(family.name);
		histogramParts.set(family.name, known ? {...known, metrics: [...known.metrics, ...family.metrics]} : family);
	}

	return {status, contentType, text, families, histogramParts};
}

function matches(sample: {labels?: Record<string, string>}, labels: Record<string, string>): boolean {
	return Object.entries(labels).every(([name, value]) => sample.labels?.[name] === value);
}

/** The samples of a counter or gauge whose labels include `labels`. */
export function samplesOf(result: Scrape, name: string, labels: Record<string, string> = {}): PrometheusSample[] {
	const family = result.families.get(name);
	return ((family?.metrics ?? []) as PrometheusSample[]).filter(sample => matches(sample, labels));
}

/** The one value of a counter or gauge with these labels; undefined when there is no such series. */
export function valueOf(result: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
	const found = samplesOf(result, name, labels);
	if (found.length > 1) {
		throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
	}

	return found[0] === undefined ? undefined : Number(found[0].value);
}

/** The one histogram series with these labels (its family must be a histogram). */
export function histogramOf(result: Scrape, name: string, labels: Record<string, string> = {}): {count: number; sum: number; buckets: Record<string, number>} | undefined {
	if (result.families.get(name)?.type !== 'HISTOGRAM') {
		return undefined;
	}

	const part = (suffix: string) => ((result.histogramParts.get(`${name}_${suffix}`)?.metrics ?? []) as PrometheusSample[]).filter(sample => matches(sample, labels));
	const counts = part('count');
	if (counts.length > 1) {
		throw new Error(`${name} ${JSON.stringify(labels)} matches ${counts.length} series`);
	}

	const [count] = counts;
	const [sum] = part('sum');
	if (count === undefined || sum === undefined) {
		return undefined;
	}

	return {count: Number(count.value), sum: Number(sum.value), buckets: Object.fromEntries(part('bucket').map(bucket => [bucket.labels?.le ?? '', Number(bucket.value)]))};
}
