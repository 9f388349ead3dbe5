// The package ships no types: its one export parses Prometheus text into metric families.
declare module 'parse-prometheus-text-format' {
  /** Families of the exposition text: name, help, type and their samples (labels and values as strings). */
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
