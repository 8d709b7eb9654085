"""Active separation RL: rollout storage with the external memory, PPO, DD-PPO, and the trainers
"ddppo" / "ppo" (train and eval) in rl/trainer.py."""
