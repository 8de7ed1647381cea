"""Update rules: pure functions of (learner state, batch, key)."""
