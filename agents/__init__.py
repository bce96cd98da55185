"""Deep RL from demonstrations on Atari: DQfD, its baselines and relatives, sharing one replay, network, learner and runner."""
