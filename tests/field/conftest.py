"""Fixtures shared by the field-workflow tests."""

import pytest
from sqlalchemy import text


@pytest.fixture
def agent_4(make_user, session):
    """An agent for graffiti in the 4e only."""
    agent = make_user(roles=("agent",), name="Agent Graffiti 4e")
    session.execute(text("""INSERT INTO agent_scopes (user_id, service_id, arrondissement_id)
        SELECT :u, id, 4 FROM services WHERE code = 'graffitis'"""), {"u": agent.user_id})
    session.commit()
    return agent
