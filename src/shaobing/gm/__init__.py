"""Chinese commercial cryptography (商用密码) for certificate login.

SM3 hashing (GB/T 32905), SM2 signatures (GB/T 32918), a strict DER codec and X.509
certificates with SM2 keys (GM/T 0015 profile), and the login challenge format.
"""
