package watermillbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// CommandTopic is the default topic of a command: "commands." followed by
// its name as the marshaler gives it (by default the Go type's fully
// qualified name, such as "accounts.Deposit").
func CommandTopic(commandName string) string { return "commands." + commandName }

// CommandBusOptions configures a CommandBus. A nil *CommandBusOptions means
// all defaults. The Marshaler and Topic of a CommandBus and of the
// CommandProcessor serving its commands must agree.
type CommandBusOptions struct {
	// Marshaler encodes commands into messages. Nil means
	// cqrs.JSONMarshaler with fully qualified Go type names.
	Marshaler cqrs.CommandEventMarshaler
	// Topic returns the topic for a command name. Nil means CommandTopic.
	Topic func(commandName string) string
	// Logger receives Watermill's logs. Nil discards them.
	Logger *slog.Logger
}

// CommandBus sends commands asynchronously over any Watermill publisher, to
// be handled by a CommandProcessor in this or another process. It wraps
// Watermill's cqrs.CommandBus and adds eventfold's metadata. A CommandBus
// is safe for concurrent use.
type CommandBus struct {
	bus *cqrs.CommandBus
}

// NewCommandBus returns a CommandBus publishing to pub. It does not close
// pub.
func NewCommandBus(pub message.Publisher, opts *CommandBusOptions) (*CommandBus, error) {
	var o CommandBusOptions
	if opts != nil {
		o = *opts
	}
	marshaler, topic := commandDefaults(o.Marshaler, o.Topic)
	bus, err := cqrs.NewCommandBusWithConfig(pub, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return topic(p.CommandName), nil
		},
		OnSend: func(p cqrs.CommandBusOnSendParams) error {
			if id := command.CorrelationID(p.Message.Context()); id != "" {
				p.Message.Metadata.Set(MetadataCorrelationID, id)
			}
			return nil
		},
		Marshaler: marshaler,
		Logger:    watermillLogger(o.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("watermillbus: new command bus: %w", err)
	}
	return &CommandBus{bus: bus}, nil
}

// Send publishes cmd and returns once the publisher accepted it; handling
// happens later, and its outcome is not reported back. The message's UUID
// becomes the command's ID (the causation ID of its events) and the
// correlation ID carried by ctx (command.CorrelationID), if any, travels in
// the message's "correlation_id" metadata, where Watermill's own
// CorrelationID middleware also looks for it.
//
// Brokers deliver at least once: give commands that must not apply twice
// an idempotency key (command.Keyed).
func (b *CommandBus) Send(ctx context.Context, cmd any) error {
	if err := b.bus.Send(ctx, cmd); err != nil {
		return fmt.Errorf("watermillbus: send %T: %w", cmd, err)
	}
	return nil
}

// CommandProcessorOptions configures NewCommandProcessor. A nil
// *CommandProcessorOptions means all defaults.
type CommandProcessorOptions struct {
	// Marshaler decodes commands. Nil means the CommandBus default.
	Marshaler cqrs.CommandEventMarshaler
	// Topic returns the topic for a command name. Nil means CommandTopic.
	Topic func(commandName string) string
	// Ack decides whether a command that failed with err is acknowledged
	// anyway (dropped, with a Warn record) instead of negatively
	// acknowledged (redelivered). Nil means AckRefusals: failures that a
	// redelivery cannot fix are dropped, every other failure is
	// redelivered (add retry and poison-queue middleware to the router for
	// those).
	Ack func(ctx context.Context, cmd any, err error) bool
	// Logger receives Watermill's logs and a Warn record for each failure
	// that Ack drops. Nil discards them.
	Logger *slog.Logger
}

// AckRefusals is the default CommandProcessorOptions.Ack. It drops the
// failures that would fail the same way on every redelivery: a decider's
// refusal (command.ErrRejected, replayed refusals included), a command that
// fails validation (command.ErrInvalidCommand), an idempotency key reused
// for a different command (command.ErrKeyReused) and events the store
// refuses as invalid (eventstore.ErrInvalidInput). Redelivering those would
// only loop.
func AckRefusals(_ context.Context, _ any, err error) bool {
	return errors.Is(err, command.ErrRejected) ||
		errors.Is(err, command.ErrInvalidCommand) ||
		errors.Is(err, command.ErrKeyReused) ||
		errors.Is(err, eventstore.ErrInvalidInput)
}

// NewCommandProcessor serves the routes of d to asynchronous commands: it
// adds one handler per command type of d (see command.Dispatcher.
// CommandTypes) to router, each subscribed with sub to its command's topic.
// The handlers call d.Dispatch, so asynchronous commands go through the
// same handlers and middleware as synchronous ones. Before dispatching, the
// message UUID becomes the command ID (command.WithCommandID) and the
// message's "correlation_id" metadata the correlation ID (the UUID when the
// message has none). The lines logged to Options.Logger about a command
// carry both (command.LogAttrs).
//
// Add every route to d before calling NewCommandProcessor; the handlers run
// when router runs. It returns the underlying cqrs.CommandProcessor, to
// which more Watermill command handlers may be added.
func NewCommandProcessor(router *message.Router, sub message.Subscriber, d *command.Dispatcher, opts *CommandProcessorOptions) (*cqrs.CommandProcessor, error) {
	var o CommandProcessorOptions
	if opts != nil {
		o = *opts
	}
	ack := o.Ack
	if ack == nil {
		ack = AckRefusals
	}
	var errs []error
	if router == nil {
		errs = append(errs, errors.New("watermillbus: NewCommandProcessor: router is nil"))
	}
	if sub == nil {
		errs = append(errs, errors.New("watermillbus: NewCommandProcessor: subscriber is nil"))
	}
	if d == nil {
		errs = append(errs, errors.New("watermillbus: NewCommandProcessor: dispatcher is nil"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	marshaler, topic := commandDefaults(o.Marshaler, o.Topic)
	p, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return topic(p.CommandName), nil
		},
		SubscriberConstructor: func(cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return sub, nil
		},
		OnHandle: func(p cqrs.CommandProcessorOnHandleParams) error {
			ctx := command.WithCommandID(p.Message.Context(), p.Message.UUID)
			// A command without a correlation ID starts a flow of its own,
			// as command.Handler would make it; set here, it is on the
			// lines logged below too.
			corr := p.Message.Metadata.Get(MetadataCorrelationID)
			if corr == "" {
				corr = p.Message.UUID
			}
			ctx = command.WithCorrelationID(ctx, corr)
			err := p.Handler.Handle(ctx, p.Command)
			if err != nil && ack(ctx, p.Command, err) {
				logger.LogAttrs(ctx, slog.LevelWarn, "watermillbus: command failed and was dropped",
					slog.String("command", p.CommandName), command.LogAttrs(ctx), slog.String("error", err.Error()))
				return nil
			}
			return err
		},
		Marshaler: marshaler,
		Logger:    watermillLogger(o.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("watermillbus: new command processor: %w", err)
	}
	for _, t := range d.CommandTypes() {
		if err := p.AddHandlers(&routeHandler{typ: t, d: d}); err != nil {
			return nil, fmt.Errorf("watermillbus: add handler for %s: %w", t, err)
		}
	}
	return p, nil
}

// routeHandler is the Watermill command handler of one Dispatcher route.
type routeHandler struct {
	typ reflect.Type
	d   *command.Dispatcher
}

func (h *routeHandler) HandlerName() string { return "eventfold.command." + h.typ.String() }

// NewCommand returns a pointer to a new command, for the marshaler to fill.
func (h *routeHandler) NewCommand() any { return reflect.New(h.typ).Interface() }

func (h *routeHandler) Handle(ctx context.Context, cmd any) error {
	_, err := h.d.Dispatch(ctx, reflect.ValueOf(cmd).Elem().Interface())
	return err
}

func commandDefaults(m cqrs.CommandEventMarshaler, topic func(string) string) (cqrs.CommandEventMarshaler, func(string) string) {
	if m == nil {
		m = cqrs.JSONMarshaler{GenerateName: cqrs.FullyQualifiedStructName}
	}
	if topic == nil {
		topic = CommandTopic
	}
	return m, topic
}

func watermillLogger(l *slog.Logger) watermill.LoggerAdapter {
	if l == nil {
		return watermill.NopLogger{}
	}
	return watermill.NewSlogLogger(l)
}
