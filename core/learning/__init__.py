"""The learning loop: mine logged conversations for new intent examples, review them, train a
new model version, and promote it only when it measurably does not get worse."""
