"""QUIC Initials for the tests: RFC vectors, a packet sealer, and real captured datagrams.

The vectors are hex with spaces between fields and the RFC section beside
them. ``seal_initial`` protects a client Initial the way a client does
(RFC 9001 §5.3 and §5.4) so that tests can build packets that authenticate
and break one field at a time; it encrypts with the ``cryptography`` package
directly, not through the code under test (only the key derivation, which
the A.1 vectors check, is shared). ``client_datagrams`` reads a capture with
scapy and returns the client-to-server UDP payloads of each flow to a port.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from copgate.wire.quic_keys import VERSIONS, derive_client_initial_keys


def h(text: str) -> bytes:
    """Hex with spaces and line breaks between fields."""
    return bytes.fromhex("".join(text.split()))


# --- RFC 9001 Appendix A (QUIC v1) ------------------------------------------

RFC_DCID = h("8394c8f03e515708")  # RFC 9001 §A, RFC 9369 §A, draft-29 §A

# RFC 9001 §A.1: the HkdfLabel info of each derivation.
V1_INFO_CLIENT_IN = h("0020 0f 746c73313320636c69656e7420696e 00")
V1_INFO_QUIC_KEY = h("0010 0e 746c7331332071756963206b6579 00")
V1_INFO_QUIC_IV = h("000c 0d 746c7331332071756963206976 00")
V1_INFO_QUIC_HP = h("0010 0d 746c7331332071756963206870 00")

V1_CLIENT_SECRET = h("c00cf151ca5be075ed0ebfb5c80323c4 2d6b7db67881289af4008f1f6c357aea")  # §A.1
V1_KEY = h("1f369613dd76d5467730efcbe3b1a22d")  # §A.1
V1_IV = h("fa044b2f42a3fd3b46fb255c")  # §A.1
V1_HP = h("9f50449e04a0e810283a1e9933adedd2")  # §A.1

# RFC 9001 §A.2: the CRYPTO frame, padded with PADDING to a 1162-byte payload.
V1_CRYPTO_FRAME = h(
    """
    06 0040f1
    010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
    04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
    616d706c652e636f6dff01000100000a00080006001d00170018001000070005
    04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
    baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
    0d0010000e0403050306030203080408050806002d00020101001c0002400100
    3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
    75300901100f088394c8f03e51570806048000ffff
    """
)
V1_CLIENT_HELLO = V1_CRYPTO_FRAME[4:]  # type 06, offset 00, length 40f1 (241)
V1_PAYLOAD = V1_CRYPTO_FRAME + bytes(1162 - len(V1_CRYPTO_FRAME))
# §A.2: first byte, version, DCID, SCID (empty), token (empty), Length 1182, pn 2.
V1_PLAIN_HEADER = h("c3 00000001 08 8394c8f03e515708 00 00 449e 00000002")
V1_SAMPLE = h("d1b1c98dd7689fb8ec11d242b123dc9b")  # §A.2
V1_MASK = h("437b9aec36")  # §A.2: AES-ECB(hp, sample)[0..4]
V1_PROTECTED_HEADER = h("c0 00000001 08 8394c8f03e515708 00 00 449e 7b9aec34")  # §A.2
V1_PACKET = h(  # §A.2: the resulting protected packet
    """
    c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
    d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
    1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
    8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
    30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
    457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
    4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
    4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
    485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
    059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
    7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
    9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
    be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
    68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
    c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
    f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
    291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
    25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
    14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
    ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
    e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
    c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
    203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
    cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
    fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
    a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
    90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
    162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
    40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
    6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
    8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
    be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
    54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
    760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
    f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
    056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
    7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
    e221af44860018ab0856972e194cd934
    """
)
# RFC 9001 §A.3: the server's Initial, which client keys must refuse.
V1_SERVER_PACKET = h(
    """
    cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a
    5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3
    dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84
    022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4
    2158407dd074ee
    """
)

# --- RFC 9369 Appendix A (QUIC v2) ------------------------------------------

V2_CLIENT_SECRET = h("14ec9d6eb9fd7af83bf5a668bc17a7e2 83766aade7ecd0891f70f9ff7f4bf47b")  # §A.1
V2_KEY = h("8b1a0bc121284290a29e0971b5cd045d")  # §A.1
V2_IV = h("91f73e2351d8fa91660e909f")  # §A.1
V2_HP = h("45b95e15235d6f45a6b19cbcb0294ba9")  # §A.1
# §A.2: same ClientHello and padding as RFC 9001 §A.2; Initial type bits 01.
V2_PLAIN_HEADER = h("d3 6b3343cf 08 8394c8f03e515708 00 00 449e 00000002")
V2_SAMPLE = h("ffe67b6abcdb4298b485dd04de806071")  # §A.2
V2_MASK = h("94a0c95e80")  # §A.2
V2_PACKET = h(  # §A.2
    """
    d76b3343cf088394c8f03e5157080000 449ea0c95e82ffe67b6abcdb4298b485
    dd04de806071bf03dceebfa162e75d6c 96058bdbfb127cdfcbf903388e99ad04
    9f9a3dd4425ae4d0992cfff18ecf0fdb 5a842d09747052f17ac2053d21f57c5d
    250f2c4f0e0202b70785b7946e992e58 a59ac52dea6774d4f03b55545243cf1a
    12834e3f249a78d395e0d18f4d766004 f1a2674802a747eaa901c3f10cda5500
    cb9122faa9f1df66c392079a1b40f0de 1c6054196a11cbea40afb6ef5253cd68
    18f6625efce3b6def6ba7e4b37a40f77 32e093daa7d52190935b8da58976ff33
    12ae50b187c1433c0f028edcc4c2838b 6a9bfc226ca4b4530e7a4ccee1bfa2a3
    d396ae5a3fb512384b2fdd851f784a65 e03f2c4fbe11a53c7777c023462239dd
    6f7521a3f6c7d5dd3ec9b3f233773d4b 46d23cc375eb198c63301c21801f6520
    bcfb7966fc49b393f0061d974a2706df 8c4a9449f11d7f3d2dcbb90c6b877045
    636e7c0c0fe4eb0f697545460c806910 d2c355f1d253bc9d2452aaa549e27a1f
    ac7cf4ed77f322e8fa894b6a83810a34 b361901751a6f5eb65a0326e07de7c12
    16ccce2d0193f958bb3850a833f7ae43 2b65bc5a53975c155aa4bcb4f7b2c4e5
    4df16efaf6ddea94e2c50b4cd1dfe060 17e0e9d02900cffe1935e0491d77ffb4
    fdf85290fdd893d577b1131a610ef6a5 c32b2ee0293617a37cbb08b847741c3b
    8017c25ca9052ca1079d8b78aebd4787 6d330a30f6a8c6d61dd1ab5589329de7
    14d19d61370f8149748c72f132f0fc99 f34d766c6938597040d8f9e2bb522ff9
    9c63a344d6a2ae8aa8e51b7b90a4a806 105fcbca31506c446151adfeceb51b91
    abfe43960977c87471cf9ad4074d30e1 0d6a7f03c63bd5d4317f68ff325ba3bd
    80bf4dc8b52a0ba031758022eb025cdd 770b44d6d6cf0670f4e990b22347a7db
    848265e3e5eb72dfe8299ad7481a4083 22cac55786e52f633b2fb6b614eaed18
    d703dd84045a274ae8bfa73379661388 d6991fe39b0d93debb41700b41f90a15
    c4d526250235ddcd6776fc77bc97e7a4 17ebcb31600d01e57f32162a8560cacc
    7e27a096d37a1a86952ec71bd89a3e9a 30a2a26162984d7740f81193e8238e61
    f6b5b984d4d3dfa033c1bb7e4f0037fe bf406d91c0dccf32acf423cfa1e70710
    10d3f270121b493ce85054ef58bada42 310138fe081adb04e2bd901f2f13458b
    3d6758158197107c14ebb193230cd115 7380aa79cae1374a7c1e5bbcb80ee23e
    06ebfde206bfb0fcbc0edc4ebec30966 1bdd908d532eb0c6adc38b7ca7331dce
    8dfce39ab71e7c32d318d136b6100671 a1ae6a6600e3899f31f0eed19e3417d1
    34b90c9058f8632c798d4490da498730 7cba922d61c39805d072b589bd52fdf1
    e86215c2d54e6670e07383a27bbffb5a ddf47d66aa85a0c6f9f32e59d85a44dd
    5d3b22dc2be80919b490437ae4f36a0a e55edf1d0b5cb4e9a3ecabee93dfc6e3
    8d209d0fa6536d27a5d6fbb17641cde2 7525d61093f1b28072d111b2b4ae5f89
    d5974ee12e5cf7d5da4d6a31123041f3 3e61407e76cffcdcfd7e19ba58cf4b53
    6f4c4938ae79324dc402894b44faf8af bab35282ab659d13c93f70412e85cb19
    9a37ddec600545473cfb5a05e08d0b20 9973b2172b4d21fb69745a262ccde96b
    a18b2faa745b6fe189cf772a9f84cbfc
    """
)

# --- draft-ietf-quic-tls-29 Appendix A ---------------------------------------

D29_CLIENT_SECRET = h("0088119288f1d866733ceeed15ff9d50 902cf82952eee27e9d4d4918ea371d87")  # §A.1
D29_KEY = h("175257a31eb09dea9366d8bb79ad80ba")  # §A.1
D29_IV = h("6b26114b9cba2b63a9e8dd4f")  # §A.1
D29_HP = h("9ddd12c994c0698b89374a9c077a3077")  # §A.1
D29_CRYPTO_FRAME = h(  # §A.2: a ClientHello for "server", padded to 1162 bytes
    """
    06 00 40c4
    010000c003036660261ff947cea49cce6cfad687f457cf1b14531ba1
    4131a0e8f309a1d0b9c4000006130113031302010000910000000b0009000006
    736572766572ff01000100000a00140012001d00170018001901000101010201
    03010400230000003300260024001d00204cfdfcd178b784bf328cae793b136f
    2aedce005ff183d7bb1495207236647037002b0003020304000d0020001e0403
    05030603020308040805080604010501060102010402050206020202002d0002
    0101001c00024001
    """
)
D29_CLIENT_HELLO = D29_CRYPTO_FRAME[4:]
D29_PAYLOAD = D29_CRYPTO_FRAME + bytes(1162 - len(D29_CRYPTO_FRAME))
D29_PLAIN_HEADER = h("c3 ff00001d 08 8394c8f03e515708 00 00 449e 00000002")  # §A.2
D29_PACKET = h(  # §A.2
    """
    c5ff00001d088394c8f03e5157080000 449e4a95245bfb66bc5f93032b7ddd89
    fe0ff15d9c4f7050fccdb71c1cd80512 d4431643a53aafa1b0b518b44968b18b
    8d3e7a4d04c30b3ed9410325b2abb2da fb1c12f8b70479eb8df98abcaf95dd8f
    3d1c78660fbc719f88b23c8aef6771f3 d50e10fdfb4c9d92386d44481b6c52d5
    9e5538d3d3942de9f13a7f8b702dc317 24180da9df22714d01003fc5e3d165c9
    50e630b8540fbd81c9df0ee63f949970 26c4f2e1887a2def79050ac2d86ba318
    e0b3adc4c5aa18bcf63c7cf8e85f5692 49813a2236a7e72269447cd1c755e451
    f5e77470eb3de64c8849d29282069802 9cfa18e5d66176fe6e5ba4ed18026f90
    900a5b4980e2f58e39151d5cd685b109 29636d4f02e7fad2a5a458249f5c0298
    a6d53acbe41a7fc83fa7cc01973f7a74 d1237a51974e097636b6203997f921d0
    7bc1940a6f2d0de9f5a11432946159ed 6cc21df65c4ddd1115f86427259a196c
    7148b25b6478b0dc7766e1c4d1b1f515 9f90eabc61636226244642ee148b464c
    9e619ee50a5e3ddc836227cad938987c 4ea3c1fa7c75bbf88d89e9ada642b2b8
    8fe8107b7ea375b1b64889a4e9e5c38a 1c896ce275a5658d250e2d76e1ed3a34
    ce7e3a3f383d0c996d0bed106c2899ca 6fc263ef0455e74bb6ac1640ea7bfedc
    59f03fee0e1725ea150ff4d69a7660c5 542119c71de270ae7c3ecfd1af2c4ce5
    51986949cc34a66b3e216bfe18b347e6 c05fd050f85912db303a8f054ec23e38
    f44d1c725ab641ae929fecc8e3cefa56 19df4231f5b4c009fa0c0bbc60bc75f7
    6d06ef154fc8577077d9d6a1d2bd9bf0 81dc783ece60111bea7da9e5a9748069
    d078b2bef48de04cabe3755b197d52b3 2046949ecaa310274b4aac0d008b1948
    c1082cdfe2083e386d4fd84c0ed0666d 3ee26c4515c4fee73433ac703b690a9f
    7bf278a77486ace44c489a0c7ac8dfe4 d1a58fb3a730b993ff0f0d61b4d89557
    831eb4c752ffd39c10f6b9f46d8db278 da624fd800e4af85548a294c1518893a
    8778c4f6d6d73c93df200960104e062b 388ea97dcf4016bced7f62b4f062cb6c
    04c20693d9a0e3b74ba8fe74cc012378 84f40d765ae56a51688d985cf0ceaef4
    3045ed8c3f0c33bced08537f6882613a cd3b08d665fce9dd8aa73171e2d3771a
    61dba2790e491d413d93d987e2745af2 9418e428be34941485c93447520ffe23
    1da2304d6a0fd5d07d08372202369661 59bef3cf904d722324dd852513df39ae
    030d8173908da6364786d3c1bfcb19ea 77a63b25f1e7fc661def480c5d00d444
    56269ebd84efd8e3a8b2c257eec76060 682848cbf5194bc99e49ee75e4d0d254
    bad4bfd74970c30e44b65511d4ad0e6e c7398e08e01307eeeea14e46ccd87cf3
    6b285221254d8fc6a6765c524ded0085 dca5bd688ddf722e2c0faf9d0fb2ce7a
    0c3f2cee19ca0ffba461ca8dc5d2c817 8b0762cf67135558494d2a96f1a139f0
    edb42d2af89a9c9122b07acbc29e5e72 2df8615c343702491098478a389c9872
    a10b0c9875125e257c7bfdf27eef4060 bd3d00f4c14fd3e3496c38d3c5d1a566
    8c39350effbc2d16ca17be4ce29f02ed 969504dda2a8c6b9ff919e693ee79e09
    089316e7d1d89ec099db3b2b268725d8 88536a4b8bf9aee8fb43e82a4d919d48
    43b1ca70a2d8d3f725ead1391377dcc0
    """
)

# --- a client Initial sealer --------------------------------------------------


def varint(value: int, size: int | None = None) -> bytes:
    """A QUIC variable-length integer (RFC 9000 §16), shortest or of ``size`` bytes."""
    if size is None:
        size = 1 if value < 1 << 6 else 2 if value < 1 << 14 else 4 if value < 1 << 30 else 8
    prefix = {1: 0, 2: 1, 4: 2, 8: 3}[size] << (8 * size - 2)
    return (prefix | value).to_bytes(size, "big")


def seal_initial(
    version: int,
    dcid: bytes,
    payload: bytes,
    *,
    scid: bytes = b"",
    packet_number: int = 0,
    pn_length: int = 4,
    token: bytes = b"",
    key_dcid: bytes | None = None,
    reserved_bits: int = 0,
) -> bytes:
    """A protected client Initial packet (RFC 9001 §5.3, §5.4).

    ``key_dcid`` derives the keys from another DCID than the header's, as a
    client does after the server picked its own connection ID.
    """
    spec = VERSIONS[version]
    first = 0xC0 | (spec.initial_type << 4) | (reserved_bits << 2) | (pn_length - 1)
    length = pn_length + len(payload) + 16
    pn_bytes = packet_number.to_bytes(pn_length, "big")
    header = (
        bytes([first])
        + version.to_bytes(4, "big")
        + bytes([len(dcid)])
        + dcid
        + bytes([len(scid)])
        + scid
        + varint(len(token))
        + token
        + varint(length, 2 if length < 1 << 14 else None)
        + pn_bytes
    )
    keys = derive_client_initial_keys(version, dcid if key_dcid is None else key_dcid)
    nonce = (int.from_bytes(keys.iv, "big") ^ packet_number).to_bytes(12, "big")
    sealed = AESGCM(keys.key).encrypt(nonce, payload, header)
    sample = sealed[4 - pn_length : 20 - pn_length]
    encryptor = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor()
    mask = encryptor.update(sample) + encryptor.finalize()
    pn_at = len(header) - pn_length
    protected = bytearray(header)
    protected[0] ^= mask[0] & 0x0F
    for i in range(pn_length):
        protected[pn_at + i] ^= mask[1 + i]
    return bytes(protected) + sealed


def long_packet(version: int, packet_type: int, dcid: bytes, body: bytes) -> bytes:
    """An opaque long-header packet of ``packet_type`` (0-RTT, Handshake) with its Length."""
    first = 0xC0 | (packet_type << 4) | 0x03
    return (
        bytes([first])
        + version.to_bytes(4, "big")
        + bytes([len(dcid)])
        + dcid
        + b"\x00"
        + varint(len(body))
        + body
    )


def crypto_frame(offset: int, data: bytes) -> bytes:
    """A CRYPTO frame (RFC 9000 §19.6)."""
    return b"\x06" + varint(offset) + varint(len(data)) + data


# --- real captures ------------------------------------------------------------

Endpoint = tuple[str, int]
Flow = tuple[Endpoint, Endpoint]


@cache
def client_datagrams(path: Path, server_port: int) -> dict[Flow, tuple[bytes, ...]]:
    """The UDP payloads each client sent to ``server_port``, per flow, in capture order."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    flows: OrderedDict[Flow, list[bytes]] = OrderedDict()
    for packet in rdpcap(str(path)):
        if UDP not in packet or packet[UDP].dport != server_port:
            continue
        ip = packet[IP] if IP in packet else packet[IPv6]
        flow = ((str(ip.src), int(packet[UDP].sport)), (str(ip.dst), int(packet[UDP].dport)))
        flows.setdefault(flow, []).append(bytes(packet[UDP].payload))
    return {flow: tuple(datagrams) for flow, datagrams in flows.items()}
