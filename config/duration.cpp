// implemented by the config work in progress
