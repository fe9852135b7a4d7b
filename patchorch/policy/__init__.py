"""Package data: `default.yml`, the built-in rollout policy (read by `patchorch.sources.policy.load_policy`)."""
