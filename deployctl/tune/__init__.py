"""`deployctl tune`: measure engine options that move decode speed and capacity, keep the winner as a profile.

- `space`  — pure: the candidates, the search order (coordinate ascent) and who wins;
- `loop`   — the bounded, resumable loop over a `Starter` and a `Prober` (injected: tests run it in memory);
- `live`   — the real Starter (`apply` / `destroy` as `<name>-tune`) and Prober (openai SDK, `deployctl bench`);
- `profile_row` — a result → a row of deployctl/data/profiles.yaml (`--write-profile`).
docs/tune.md describes the options, their sources and what is measured where.
"""
