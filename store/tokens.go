package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roles a token can hold.
var Roles = []string{"viewer", "operator", "approver", "author", "admin"}

// ErrBadToken is a token that is unknown or revoked.
var ErrBadToken = errors.New("invalid or revoked token")

// Identity is who a token speaks for.
type Identity struct {
	TokenID uint     `json:"tokenId"`
	User    string   `json:"user"`
	Roles   []string `json:"roles"`
	Groups  []string `json:"groups"`
}

// Has reports whether the identity holds role (admin holds every role).
func (id *Identity) Has(role string) bool {
	return slices.Contains(id.Roles, role) || slices.Contains(id.Roles, "admin")
}

// CreateToken makes a token for user and returns its secret, which is
// shown once: only its SHA-256 is stored.
func (s *Store) CreateToken(user string, roles, groups []string) (string, *Token, error) {
	if strings.TrimSpace(user) == "" {
		return "", nil, fmt.Errorf("a token needs a user")
	}
	for _, r := range roles {
		if !slices.Contains(Roles, r) {
			return "", nil, fmt.Errorf("unknown role %q (roles: %s)", r, strings.Join(Roles, ", "))
		}
	}
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	secret := "rbk_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	t := &Token{Hash: hashToken(secret), Prefix: secret[:12], User: user, Roles: strings.Join(roles, ","), Groups: strings.Join(groups, ",")}
	if err := s.db.Create(t).Error; err != nil {
		return "", nil, fmt.Errorf("store: create token: %w", err)
	}
	return secret, t, nil
}

// Authenticate resolves a token's secret to its identity and records its use.
func (s *Store) Authenticate(secret string) (*Identity, error) {
	var t Token
	if err := s.db.Where("hash = ?", hashToken(secret)).First(&t).Error; err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return nil, ErrBadToken
		}
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, ErrBadToken
	}
	now := time.Now().UTC()
	if err := s.db.Model(&t).Update("last_used_at", now).Error; err != nil {
		return nil, err
	}
	return &Identity{TokenID: t.ID, User: t.User, Roles: split(t.Roles), Groups: split(t.Groups)}, nil
}

// RevokeToken revokes a token by id.
func (s *Store) RevokeToken(id uint) error {
	res := s.db.Model(&Token{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", time.Now().UTC())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
