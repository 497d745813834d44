app_name = "overage"

urlpatterns = []
