"""Rules: the keyword query language, its matcher, and the rule engine."""
