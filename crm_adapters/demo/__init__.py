"""The built-in demo shop: a real SQLite database with three customers, six orders, a catalog,
a return policy and help articles, seeded on first start.

The seeded facts are a contract other tests rely on; they are exported here so those tests can
name them instead of repeating literals.
"""

from crm_adapters.demo.adapter import DemoShop
from crm_adapters.demo.articles import DEMO_ARTICLES
from crm_adapters.demo.catalog import DEMO_RETURN_POLICY, demo_products
from crm_adapters.demo.seed import DEMO_CUSTOMERS, DEMO_ORDER_NUMBERS, demo_orders

__all__ = [
    "DEMO_ARTICLES",
    "DEMO_CUSTOMERS",
    "DEMO_ORDER_NUMBERS",
    "DEMO_RETURN_POLICY",
    "DemoShop",
    "demo_orders",
    "demo_products",
]
