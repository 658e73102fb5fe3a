"""医院接口 The hospital API (django-ninja), one router module per domain."""
