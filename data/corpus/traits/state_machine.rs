//! Modelling a state machine with enums, and the "typestate" alternative.
//!
//! The first half models an order's lifecycle as an enum plus a transition
//! function that rejects invalid events. The second half encodes the states
//! of a network connection in the type system, so that calling `send` on a
//! closed connection does not even compile.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    Draft,
    Placed { items: u32 },
    Paid { items: u32, amount_cents: u64 },
    Shipped { tracking: String },
    Delivered,
    Cancelled { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    Place { items: u32 },
    Pay { amount_cents: u64 },
    Ship { tracking: String },
    Deliver,
    Cancel { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: &'static str,
    pub event: &'static str,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {} an order that is {}", self.event, self.from)
    }
}

impl OrderState {
    pub fn label(&self) -> &'static str {
        match self {
            OrderState::Draft => "draft",
            OrderState::Placed { .. } => "placed",
            OrderState::Paid { .. } => "paid",
            OrderState::Shipped { .. } => "shipped",
            OrderState::Delivered => "delivered",
            OrderState::Cancelled { .. } => "cancelled",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(self, OrderState::Delivered | OrderState::Cancelled { .. })
    }

    /// Consumes the state and an event, returning the next state.
    pub fn apply(self, event: OrderEvent) -> Result<OrderState, InvalidTransition> {
        use OrderEvent as E;
        use OrderState as S;
        let event_name = match &event {
            E::Place { .. } => "place",
            E::Pay { .. } => "pay for",
            E::Ship { .. } => "ship",
            E::Deliver => "deliver",
            E::Cancel { .. } => "cancel",
        };
        let from = self.label();
        match (self, event) {
            (S::Draft, E::Place { items }) if items > 0 => Ok(S::Placed { items }),
            (S::Placed { items }, E::Pay { amount_cents }) if amount_cents > 0 => Ok(S::Paid {
                items,
                amount_cents,
            }),
            (S::Paid { .. }, E::Ship { tracking }) if !tracking.is_empty() => {
                Ok(S::Shipped { tracking })
            }
            (S::Shipped { .. }, E::Deliver) => Ok(S::Delivered),
            // Anything not yet shipped can still be cancelled.
            (S::Draft | S::Placed { .. } | S::Paid { .. }, E::Cancel { reason }) => {
                Ok(S::Cancelled { reason })
            }
            _ => Err(InvalidTransition {
                from,
                event: event_name,
            }),
        }
    }
}

/// Replays events from the draft state, stopping at the first invalid one.
pub fn replay(events: Vec<OrderEvent>) -> Result<OrderState, (usize, InvalidTransition)> {
    events
        .into_iter()
        .enumerate()
        .try_fold(OrderState::Draft, |state, (i, e)| {
            state.apply(e).map_err(|err| (i, err))
        })
}

// ---- Typestate: states as types -------------------------------------------

/// Marker types for the connection states.
#[derive(Debug)]
pub struct Disconnected;
#[derive(Debug)]
pub struct Connected {
    peer: String,
}
#[derive(Debug)]
pub struct Authenticated {
    peer: String,
    user: String,
}

/// A connection whose available methods depend on its state `S`.
#[derive(Debug)]
pub struct Connection<S> {
    state: S,
    log: Vec<String>,
}

impl Connection<Disconnected> {
    pub fn new() -> Self {
        Connection {
            state: Disconnected,
            log: Vec::new(),
        }
    }

    pub fn connect(mut self, peer: &str) -> Connection<Connected> {
        self.log.push(format!("connect {}", peer));
        Connection {
            state: Connected {
                peer: peer.to_string(),
            },
            log: self.log,
        }
    }
}

impl Default for Connection<Disconnected> {
    fn default() -> Self {
        Self::new()
    }
}

impl Connection<Connected> {
    /// Authentication can fail, in which case the caller keeps the connected state.
    pub fn login(
        mut self,
        user: &str,
        password: &str,
    ) -> Result<Connection<Authenticated>, Connection<Connected>> {
        if password.len() < 4 {
            self.log.push(format!("login {} refused", user));
            return Err(self);
        }
        self.log.push(format!("login {}", user));
        let peer = self.state.peer;
        Ok(Connection {
            state: Authenticated {
                peer,
                user: user.to_string(),
            },
            log: self.log,
        })
    }

    pub fn disconnect(mut self) -> Connection<Disconnected> {
        self.log.push("disconnect".to_string());
        Connection {
            state: Disconnected,
            log: self.log,
        }
    }
}

impl Connection<Authenticated> {
    pub fn send(&mut self, message: &str) -> usize {
        self.log.push(format!(
            "{}@{} <- {}",
            self.state.user, self.state.peer, message
        ));
        message.len()
    }

    pub fn logout(mut self) -> Connection<Connected> {
        self.log.push("logout".to_string());
        Connection {
            state: Connected {
                peer: self.state.peer,
            },
            log: self.log,
        }
    }
}

impl<S> Connection<S> {
    /// Available in every state.
    pub fn history(&self) -> &[String] {
        &self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path() {
        let final_state = replay(vec![
            OrderEvent::Place { items: 2 },
            OrderEvent::Pay { amount_cents: 1999 },
            OrderEvent::Ship {
                tracking: "TRK1".into(),
            },
            OrderEvent::Deliver,
        ]);
        assert_eq!(final_state, Ok(OrderState::Delivered));
        assert!(OrderState::Delivered.is_final());
    }

    #[test]
    fn invalid_events_are_reported() {
        let err = OrderState::Draft.apply(OrderEvent::Deliver).unwrap_err();
        assert_eq!(err.to_string(), "cannot deliver an order that is draft");
        let err = replay(vec![
            OrderEvent::Place { items: 1 },
            OrderEvent::Ship {
                tracking: "X".into(),
            },
        ])
        .unwrap_err();
        assert_eq!(err.0, 1);
        assert_eq!(err.1.to_string(), "cannot ship an order that is placed");
        assert!(OrderState::Draft
            .apply(OrderEvent::Place { items: 0 })
            .is_err());
    }

    #[test]
    fn cancellation_rules() {
        let paid = OrderState::Paid {
            items: 1,
            amount_cents: 5,
        };
        let cancelled = paid
            .apply(OrderEvent::Cancel {
                reason: "changed mind".into(),
            })
            .unwrap();
        assert_eq!(cancelled.label(), "cancelled");
        assert!(cancelled.is_final());
        let shipped = OrderState::Shipped {
            tracking: "T".into(),
        };
        assert!(shipped
            .apply(OrderEvent::Cancel {
                reason: "late".into()
            })
            .is_err());
    }

    #[test]
    fn typestate_connection() {
        let conn = Connection::new().connect("db.local");
        let conn = match conn.login("ann", "pw") {
            Ok(_) => panic!("short password must be refused"),
            Err(still_connected) => still_connected,
        };
        let mut auth = conn.login("ann", "secret").expect("valid login");
        assert_eq!(auth.send("SELECT 1"), 8);
        let closed = auth.logout().disconnect();
        assert_eq!(
            closed.history(),
            &[
                "connect db.local",
                "login ann refused",
                "login ann",
                "ann@db.local <- SELECT 1",
                "logout",
                "disconnect"
            ]
        );
    }
}
