"""Renderers: files that run a deployment elsewhere (compose; Kubernetes later), all from one LaunchSpec."""
