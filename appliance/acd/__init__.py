"""The ACD: queues, agents, routing and the call-centre KPIs (see kpis.py, EVENTS.md)."""
