/**
 * Types for parse-prometheus-text-format 1.1 (a test-only parser of the Prometheus text format;
 * the package ships none). Output follows prom2json: values are strings as written.
 */
declare module 'parse-prometheus-text-format' {
	/** A counter, gauge or untyped sample. */
	export type PrometheusSample = {value: string; labels?: Record<string, string>; timestamp_ms?: string};
	/** A histogram series: cumulative counts by `le`. */
	export type PrometheusHistogramSample = {buckets: Record<string, string>; count: string; sum: string; labels?: Record<string, string>};
	/** A summary series. */
	export type PrometheusSummarySample = {quantiles: Record<string, string>; count: string; sum: string; labels?: Record<string, string>};
	/** One metric family. */
	export type PrometheusFamily = {
		name: string;
		help: string;
		type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
		metrics: Array<PrometheusSample | PrometheusHistogramSample | PrometheusSummarySample>;
	};

	/** Parses an exposition. A histogram family with several series comes out as one, labels lost (see prometheus-scrape.ts). */
	export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
