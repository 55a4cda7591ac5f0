import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

/**
 * Spans through `@opentelemetry/api`, named like the seed's (`ttp.rule.state.change`,
 * `ttp.store.write_state`, `ttp.rule.publish`). The API is a no-op unless the host
 * application installs an SDK; when tracing is off the store does not even call it.
 */
export interface Tracing {
  readonly enabled: boolean;
  /** Runs `work` inside a span (or directly, when tracing is off). */
  span<T>(name: string, attributes: Attributes, work: (span: Span | null) => Promise<T>): Promise<T>;
  /** Records a finished synchronous step as a span (no-op when off). */
  record(name: string, attributes: Attributes): void;
}

const OFF: Tracing = {
  enabled: false,
  span: (_name, _attributes, work) => work(null),
  record: () => {},
};

/** Whether tracing is on: the option wins, else `TTP_RULES_TRACING=1`. */
export function tracingEnabled(option: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return option ?? (env['TTP_RULES_TRACING'] === '1' || env['TTP_RULES_TRACING'] === 'true');
}

/** Creates the store's tracing helper; the tracer is looked up per span so a late-installed SDK is honoured. */
export function createTracing(enabled: boolean): Tracing {
  if (!enabled) return OFF;
  const tracer = () => trace.getTracer('ttp-rule-store');
  return {
    enabled: true,
    span(name, attributes, work) {
      return tracer().startActiveSpan(name, { attributes }, async (span) => {
        try {
          return await work(span);
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          throw error;
        } finally {
          span.end();
        }
      });
    },
    record(name, attributes) {
      tracer().startSpan(name, { attributes }).end();
    },
  };
}
