"""A plain Vision Transformer backbone (ViTDet / ViTMatte style).

The backbone keeps the plain ViT of the DINO / timm releases (16 x 16 patch embedding by a
strided convolution, learned absolute position embedding, pre-norm blocks of multi-head
self-attention and an MLP) and changes only what dense prediction at arbitrary sizes needs:

- no class token; the position embedding is stored for a reference token grid and
  resized (bicubic) to the token grid of each input;
- most blocks attend within non-overlapping windows of ``window_size`` x ``window_size``
  tokens (the token grid is zero-padded to a multiple of the window), a few attend globally;
- optionally, a decomposed relative position bias (one learned table per axis, as in
  MViTv2 / ViTDet), zero-initialised so that a pretrained checkpoint starts unchanged;
- the output is the token grid as a feature map (B, dim, H / patch, W / patch).

Parameter names follow timm / DINO (``patch_embed.proj``, ``pos_embed``,
``blocks.N.norm1``, ``blocks.N.attn.qkv``, ``blocks.N.attn.proj``, ``blocks.N.norm2``,
``blocks.N.mlp.fc1``, ``blocks.N.mlp.fc2``, ``norm``), so that loading a ViT-S/16
checkpoint is a matter of dropping the class token and resizing the position embedding;
:mod:`mattinglib.models.checkpoints` does that.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def resize_pos_embed(pos_embed: torch.Tensor, source_grid: tuple[int, int],
                     target_grid: tuple[int, int]) -> torch.Tensor:
    """Resize a position embedding from one token grid to another (bicubic).

    Parameters
    ----------
    pos_embed : Tensor, shape (1, source_h * source_w, D)
        Row-major tokens of the source grid.
    source_grid, target_grid : (int, int)
        Token grids (rows, columns).

    Returns
    -------
    Tensor, shape (1, target_h * target_w, D)
        The input itself when the grids agree.
    """
    if tuple(source_grid) == tuple(target_grid):
        return pos_embed
    dim = pos_embed.shape[-1]
    grid = pos_embed.reshape(1, source_grid[0], source_grid[1], dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(target_grid), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, target_grid[0] * target_grid[1], dim)


def _relative_table(table: torch.Tensor, size: int) -> torch.Tensor:
    """Expand a relative-position table to a (size, size, C) lookup of offsets ``i - j``.

    ``table`` holds one vector per offset ``-(L-1)/2 .. (L-1)/2`` (shape (L, C)); when ``L``
    differs from ``2 * size - 1`` it is resized linearly first, so that a table learned for
    one grid serves any other.
    """
    length = 2 * size - 1
    if table.shape[0] != length:
        table = F.interpolate(table.t().unsqueeze(0), size=length, mode="linear",
                              align_corners=False).squeeze(0).t()
    positions = torch.arange(size, device=table.device)
    offsets = positions[:, None] - positions[None, :] + (size - 1)
    return table[offsets]


def relative_position_bias(q: torch.Tensor, grid: tuple[int, int], table_h: torch.Tensor,
                           table_w: torch.Tensor) -> torch.Tensor:
    """Decomposed relative position bias for attention over a (gh, gw) token grid.

    The bias between query token (y, x) and key token (y', x') is
    ``q . R_h[y - y'] + q . R_w[x - x']``: one table per axis, the query decides how much
    each offset matters.

    Parameters
    ----------
    q : Tensor, shape (B, heads, gh * gw, head_dim)
        Queries (before the 1 / sqrt(head_dim) scaling).
    grid : (int, int)
        Token grid (gh, gw), row-major.
    table_h, table_w : Tensor, shape (L_h, head_dim), (L_w, head_dim)
        Learned tables for vertical and horizontal offsets.

    Returns
    -------
    Tensor, shape (B, heads, gh * gw, gh * gw)
        Additive attention bias.
    """
    gh, gw = grid
    batch, heads, tokens, head_dim = q.shape
    rel_h = _relative_table(table_h, gh)                     # (gh, gh, C)
    rel_w = _relative_table(table_w, gw)                     # (gw, gw, C)
    q_grid = q.reshape(batch, heads, gh, gw, head_dim)
    bias_h = torch.einsum("bnyxc,ykc->bnyxk", q_grid, rel_h)  # (B, heads, gh, gw, gh)
    bias_w = torch.einsum("bnyxc,xkc->bnyxk", q_grid, rel_w)  # (B, heads, gh, gw, gw)
    bias = bias_h[..., :, None] + bias_w[..., None, :]        # (B, heads, gh, gw, gh, gw)
    return bias.reshape(batch, heads, tokens, tokens)


class PatchEmbed(nn.Module):
    """Non-overlapping patches to tokens by a strided convolution (timm naming: ``proj``).

    ``(B, in_channels, H, W) -> (B, embed_dim, H / patch_size, W / patch_size)``.
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Attention(nn.Module):
    """Multi-head self-attention over a token grid (timm naming: ``qkv``, ``proj``).

    Parameters
    ----------
    dim : int
        Token width.
    num_heads : int
        Heads; ``dim`` must be divisible by it.
    rel_pos_size : int or None
        Side of the grid the relative-position tables are sized for (``2 * size - 1``
        entries each); None for no relative position bias.
    """

    def __init__(self, dim: int, num_heads: int, rel_pos_size: int | None = None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        # The qkv output is laid out (3, heads, head_dim), as in timm / DINO, so that their
        # weights keep their meaning here.
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = rel_pos_size is not None
        if self.use_rel_pos:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * rel_pos_size - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * rel_pos_size - 1, self.head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, gh, gw, dim) -> (B, gh, gw, dim): every token attends to every token of its grid."""
        batch, gh, gw, dim = x.shape
        qkv = self.qkv(x).reshape(batch, gh * gw, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)        # each (B, heads, N, head_dim)
        bias = None
        if self.use_rel_pos:
            bias = relative_position_bias(q, (gh, gw), self.rel_pos_h, self.rel_pos_w)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        out = out.transpose(1, 2).reshape(batch, gh, gw, dim)
        return self.proj(out)


class Mlp(nn.Module):
    """Two-layer perceptron with GELU (timm naming: ``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Cut a token grid into non-overlapping windows, zero-padding it to a multiple first.

    Parameters
    ----------
    x : Tensor, shape (B, gh, gw, D)
    window : int

    Returns
    -------
    windows : Tensor, shape (B * nh * nw, window, window, D)
    padded_grid : (int, int)
        ``(nh * window, nw * window)``.
    """
    batch, gh, gw, dim = x.shape
    pad_h, pad_w = -gh % window, -gw % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = gh + pad_h, gw + pad_w
    x = x.reshape(batch, hp // window, window, wp // window, window, dim)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, dim)
    return windows, (hp, wp)


def window_unpartition(windows: torch.Tensor, window: int, padded_grid: tuple[int, int],
                       grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nh * nw, window, window, D) -> (B, gh, gw, D)."""
    hp, wp = padded_grid
    gh, gw = grid
    dim = windows.shape[-1]
    batch = windows.shape[0] // ((hp // window) * (wp // window))
    x = windows.reshape(batch, hp // window, wp // window, window, window, dim)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(batch, hp, wp, dim)
    return x[:, :gh, :gw]


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``.

    Parameters
    ----------
    dim, num_heads : int
    mlp_ratio : float
        MLP hidden width / ``dim``.
    window_size : int
        Side of the attention windows in tokens; 0 for global attention.
    rel_pos_size : int or None
        See :class:`Attention`.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, window_size: int = 0,
                 rel_pos_size: int | None = None) -> None:
        super().__init__()
        self.window_size = window_size
        # eps 1e-6 as in the DINO / timm ViTs, so their LayerNorm weights behave identically.
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, rel_pos_size)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, gh, gw, dim) -> (B, gh, gw, dim)."""
        attended = self.norm1(x)
        if self.window_size > 0:
            grid = (x.shape[1], x.shape[2])
            windows, padded_grid = window_partition(attended, self.window_size)
            attended = window_unpartition(self.attn(windows), self.window_size, padded_grid, grid)
        else:
            attended = self.attn(attended)
        x = x + attended
        return x + self.mlp(self.norm2(x))


class ViTBackbone(nn.Module):
    """Plain ViT producing a stride-``patch_size`` feature map.

    Parameters
    ----------
    in_channels : int
        Input channels (3 = RGB; 4 = RGB + trimap).
    patch_size : int
        Side of the square patches (the stride of the output).
    embed_dim : int
        Token width ``D``.
    depth : int
        Number of blocks.
    num_heads : int
        Attention heads; must divide ``embed_dim``.
    mlp_ratio : float
        MLP hidden width / ``D``.
    window_size : int
        Side of the attention windows (tokens) of the windowed blocks.
    global_blocks : tuple of int
        Indices of the blocks with global attention; the others use windows.
    use_rel_pos : bool
        Add a decomposed relative position bias in every block.
    pos_embed_grid : int
        Side of the reference token grid the absolute position embedding is stored for
        (14 = 224 px / 16, the DINO / timm pretraining grid).
    rel_pos_grid : int
        Side of the grid the global blocks' relative tables are sized for (windowed blocks
        use ``window_size``); resized to the actual grid on the fly.

    Notes
    -----
    Input height and width must be multiples of ``patch_size`` (the matting models pad).
    Output: ``(B, D, H / patch_size, W / patch_size)`` after a final LayerNorm.
    """

    def __init__(self, in_channels: int = 3, patch_size: int = 16, embed_dim: int = 384,
                 depth: int = 12, num_heads: int = 6, mlp_ratio: float = 4.0,
                 window_size: int = 14, global_blocks: tuple[int, ...] = (2, 5, 8, 11),
                 use_rel_pos: bool = True, pos_embed_grid: int = 14, rel_pos_grid: int = 32) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        bad_blocks = [i for i in global_blocks if not 0 <= i < depth]
        if bad_blocks:
            raise ValueError(f"global_blocks {bad_blocks} are outside 0..{depth - 1}")
        if window_size < 1 or pos_embed_grid < 1 or patch_size < 1:
            raise ValueError("window_size, pos_embed_grid and patch_size must be >= 1; got "
                             f"{window_size}, {pos_embed_grid}, {patch_size}")
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.pos_embed_grid = (pos_embed_grid, pos_embed_grid)
        self.patch_embed = PatchEmbed(in_channels, embed_dim, patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, pos_embed_grid * pos_embed_grid, embed_dim))
        blocks = []
        for index in range(depth):
            is_global = index in global_blocks
            rel_size = (rel_pos_grid if is_global else window_size) if use_rel_pos else None
            blocks.append(Block(embed_dim, num_heads, mlp_ratio,
                                window_size=0 if is_global else window_size, rel_pos_size=rel_size))
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self._init_weights()

    def _init_weights(self) -> None:
        # The usual ViT initialisation (timm): truncated normal 0.02 for the position
        # embedding and the linear layers, zero biases, unit LayerNorms.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode an (already normalised and padded) input.

        Parameters
        ----------
        x : Tensor, shape (B, in_channels, H, W), float
            H and W multiples of ``patch_size``.

        Returns
        -------
        Tensor, shape (B, embed_dim, H / patch_size, W / patch_size), float
        """
        if x.shape[-2] % self.patch_size or x.shape[-1] % self.patch_size:
            raise ValueError(f"the backbone input's height and width must be multiples of "
                             f"{self.patch_size}; got {tuple(x.shape)}")
        tokens = self.patch_embed(x)                         # (B, D, gh, gw)
        batch, dim, gh, gw = tokens.shape
        pos = resize_pos_embed(self.pos_embed, self.pos_embed_grid, (gh, gw))
        tokens = tokens.permute(0, 2, 3, 1) + pos.reshape(1, gh, gw, dim)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens).permute(0, 3, 1, 2)
