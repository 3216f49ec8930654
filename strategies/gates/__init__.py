"""Gates between rollout steps, and deciding on a set of them."""
