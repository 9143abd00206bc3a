"""The database: Tortoise models (each table's one description) and versioned migrations,
and the unit of work, with its repositories, through which every use case reaches it."""
