"""The ways in: the `bijli` command (`cli/`) and the runners its commands start."""
