"""The command layer: what an operator or the API asks of workflows, executions and triggers, validated and
transactional."""
