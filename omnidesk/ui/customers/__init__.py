"""The Customers workspace: paged customer table, customer detail and the customer dialogs."""
