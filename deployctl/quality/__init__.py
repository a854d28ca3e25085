"""Task quality of a served endpoint: lm-evaluation-harness runs, the scores they give, and the swap gate.

- `scores`: typed results in lm-eval's own terms (task, metric, filter, value, stderr) and the pure
  comparison of a candidate with a baseline (the gate's verdict);
- `tasks`: the offline task set shipped in the package (lm-eval YAML over JSONL);
- `harness`: the adapter that runs lm-eval against an OpenAI endpoint (imports lm_eval when called);
- `baseline`: scores kept per deployment and checkpoint, so a swap measures only the candidate;
- `gate`: the executor's "verify candidate" step.
"""
