def test_fresh_database_has_the_builtin_administrator(admin):
    assert admin.username == "admin" and admin.can("delete_customer")
