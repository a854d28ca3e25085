"""`deployctl bench`: load an OpenAI-compatible endpoint and report the metrics users know.

Metric names and definitions follow `vllm bench serve` (vllm/benchmarks/serve.py), so figures can be
compared with it directly: TTFT (first streamed token), TPOT ((latency − TTFT) / (output tokens − 1) per
request; AIPerf calls it inter_token_latency), ITL (every gap between streamed chunks, pooled; AIPerf's
inter_chunk_latency), E2EL (request latency seen by the client). Layout:

- `metrics`  — pure: recorded timestamps → the summary (unit-tested with known timestamps);
- `prompts`  — pure: fixed or seeded-random prompts of a set length;
- `roofline` — pure: batch-1 decode ceiling = memory bandwidth ÷ bytes read per token;
- `client`   — the async load generator (openai SDK, imported when a run starts);
- `run`      — the concurrency sweep and the report model; `target` — NAME or URL → endpoint.
"""
