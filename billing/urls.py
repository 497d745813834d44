from billing.credit_urls import urlpatterns as credit_urlpatterns
from billing.rate_urls import urlpatterns as rate_urlpatterns
from billing.rating_urls import urlpatterns as rating_urlpatterns
from billing.reconciliation_urls import urlpatterns as reconciliation_urlpatterns
from billing.usage_urls import urlpatterns as usage_urlpatterns

app_name = "billing"

urlpatterns = usage_urlpatterns + rating_urlpatterns + credit_urlpatterns + rate_urlpatterns + reconciliation_urlpatterns
