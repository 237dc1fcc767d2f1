def openapi_document():
    return {"openapi": "3.1.0", "info": {"title": "Cartagora", "version": "1"}, "paths": {}}
