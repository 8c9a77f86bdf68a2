async def test_viewer(api):
    data = (await api.gql("{ viewer { user workspace role } }")).ok()
    assert data == {"viewer": {"user": "ann", "workspace": "acme", "role": "ADMIN"}}
