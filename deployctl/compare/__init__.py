"""`deployctl compare RECIPE --formats ...`: `figures` (model + markdown, pure), `plot` (PNG),
`gather` (quantize, serve and bench each format, or read recorded bench results)."""
