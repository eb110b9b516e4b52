"""Starts and configures Plinth's processes: settings from the environment, logging, the
`plinth` command and its own client calls. The one package above core, the gateways and
the client; none of them imports it."""
