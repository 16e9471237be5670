"""The Faust app, agents, web views and the spendwatch command."""
