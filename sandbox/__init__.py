"""The local sandbox: the whole product on one machine, AWS emulated by moto from template.yaml."""
